"""``python -m redis_fintech_sdk.cli``: the same as the ``rfsdk`` command."""

import sys

from redis_fintech_sdk.cli import main

sys.exit(main())
