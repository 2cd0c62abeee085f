"""Operations: config rendering, the ``doctor`` rules for a live server, capacity estimates.

Rendering covers redis.conf, sentinel.conf, the ACL file and docker compose files.

Rendering and rules are pure functions; :func:`run_doctor` is the thin part that fetches
``INFO`` / ``CONFIG GET`` / ``SLOWLOG`` / ``LATENCY`` from a server. See
``docs/operations/``.
"""

from redis_fintech_sdk.ops._bundle import IMAGE, Bundle, generate_secrets, render_bundle
from redis_fintech_sdk.ops._capacity import CapacityEstimate, CapacityInput, estimate_capacity
from redis_fintech_sdk.ops._conf import (
    ACL_ROLES,
    PROFILES,
    AclUser,
    Profile,
    RedisConfOptions,
    SentinelConfOptions,
    TLSPaths,
    profile_options,
    render_acl_file,
    render_redis_conf,
    render_sentinel_conf,
)
from redis_fintech_sdk.ops._doctor import DoctorInput, DoctorReport, Finding, Severity, diagnose
from redis_fintech_sdk.ops._doctor_fetch import (
    doctor_steps,
    is_local,
    run_doctor,
    run_doctor_async,
)
from redis_fintech_sdk.ops._kernel import KernelSettings, read_kernel_settings

__all__ = [
    "ACL_ROLES",
    "AclUser",
    "Bundle",
    "CapacityEstimate",
    "CapacityInput",
    "DoctorInput",
    "DoctorReport",
    "Finding",
    "IMAGE",
    "KernelSettings",
    "PROFILES",
    "Profile",
    "RedisConfOptions",
    "SentinelConfOptions",
    "Severity",
    "TLSPaths",
    "diagnose",
    "doctor_steps",
    "estimate_capacity",
    "generate_secrets",
    "is_local",
    "profile_options",
    "read_kernel_settings",
    "render_acl_file",
    "render_bundle",
    "render_redis_conf",
    "render_sentinel_conf",
    "run_doctor",
    "run_doctor_async",
]
