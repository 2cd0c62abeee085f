#!/usr/bin/env node
// Independent decoder for redis_fintech_sdk wire format v1, written from docs/wire-format.md.
//
// Node standard library only (no npm packages). It decodes every vector of the vector file(s),
// compares the result with the listed envelope fields and payload, re-encodes the inputs of
// every uncompressed vector to the same bytes, and checks that every frame under "invalid" is
// refused with the listed error. Prints a JSON summary {checked, passed, reencoded, skipped,
// failures, ...} and exits 1 on any failure. The Python SDK is not used.
//
//   node tests/interop/wire_v1.mjs [VECTOR_FILE ...]   (default: tests/vectors/wire-v1*.json)
//
// Compressed vectors need zstd, which node:zlib only has in recent Node versions; without it
// they are decoded up to step 9 (limits, zstd frame header) and reported as skipped.

import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Errors (docs/wire-format.md §4): every error is a CodecError.

export class CodecError extends Error {
  get name() {
    return this.constructor.name;
  }
}
export class FrameError extends CodecError {}
export class UnsupportedVersionError extends CodecError {}
export class PolicyError extends CodecError {}
export class SignatureError extends CodecError {}
export class DecryptionError extends CodecError {}
export class UnknownKeyError extends DecryptionError {}
export class DecompressionError extends CodecError {}

/** Error names as the vector files spell them; a subclass matches its parent's name. */
export const ERRORS = {
  CodecError,
  FrameError,
  UnsupportedVersionError,
  PolicyError,
  SignatureError,
  DecryptionError,
  UnknownKeyError,
  DecompressionError,
};

/** Thrown when this Node lacks a capability (zstd): the vector is skipped, not failed. */
export class Unsupported extends Error {}

export const HAS_ZSTD = typeof zlib.zstdDecompressSync === 'function';

// ---------------------------------------------------------------------------------------------
// Minimal MessagePack decoder: only what the spec allows (no application extension types).

const MAX_DEPTH = 1024;
const MAX_STR_CHARS = 1024;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8(bytes, what) {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new FrameError(`${what}: invalid UTF-8`);
  }
}

function intOut(big) {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big)
    : big;
}

// Two modes. 'body' (payloads): the timestamp extension (-1) is the only extension type
// accepted, non-string map keys are tolerated except maps. 'ignored' (the value of an unknown
// extension-map key, which is skipped): any extension type, but maps and arrays as map keys
// are refused (docs/wire-format.md §2 and §3).
class MsgpackReader {
  constructor(buf, start = 0, end = buf.length, mode = 'body') {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.mode = mode;
  }

  need(n) {
    if (n > this.end - this.pos) throw new FrameError('msgpack: truncated');
  }

  u8() {
    this.need(1);
    return this.buf[this.pos++];
  }

  take(n) {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  uint(n) {
    const b = this.take(n);
    if (n === 1) return b[0];
    if (n === 2) return b.readUInt16BE(0);
    if (n === 4) return b.readUInt32BE(0);
    return intOut(b.readBigUInt64BE(0));
  }

  sint(n) {
    const b = this.take(n);
    if (n === 1) return b.readInt8(0);
    if (n === 2) return b.readInt16BE(0);
    if (n === 4) return b.readInt32BE(0);
    return intOut(b.readBigInt64BE(0));
  }

  /** Type family of the next item, without consuming it. */
  peekKind() {
    this.need(1);
    const t = this.buf[this.pos];
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) return 'int';
    if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb)) return 'str';
    if ((t >= 0x80 && t <= 0x8f) || t === 0xde || t === 0xdf) return 'map';
    if ((t >= 0x90 && t <= 0x9f) || t === 0xdc || t === 0xdd) return 'array';
    if (t === 0xc0) return 'nil';
    if (t === 0xc2 || t === 0xc3) return 'bool';
    if (t === 0xca || t === 0xcb) return 'float';
    if (t >= 0xc4 && t <= 0xc6) return 'bin';
    if (t >= 0xc7 && t <= 0xc9) return 'ext';
    if (t >= 0xd4 && t <= 0xd8) return 'ext';
    return 'invalid'; // 0xc1: never used
  }

  /** Reads a map header and returns its entry count (the entries are not read). */
  mapHeader() {
    const t = this.u8();
    let n;
    if (t >= 0x80 && t <= 0x8f) n = t & 0x0f;
    else if (t === 0xde) n = this.uint(2);
    else if (t === 0xdf) n = this.uint(4);
    else throw new FrameError('msgpack: expected a map');
    this.need(n * 2); // every key and value takes at least one byte
    return n;
  }

  str(len, what = 'msgpack str') {
    return utf8(this.take(len), what);
  }

  value(depth = 0) {
    const t = this.u8();
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return this.str(t & 0x1f);
    if (t >= 0x90 && t <= 0x9f) return this.array(t & 0x0f, depth);
    if (t >= 0x80 && t <= 0x8f) return this.map(t & 0x0f, depth);
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return Buffer.from(this.take(this.uint(1 << (t - 0xc4))));
      case 0xca:
        return this.take(4).readFloatBE(0);
      case 0xcb:
        return this.take(8).readDoubleBE(0);
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf:
        return this.uint(1 << (t - 0xcc));
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3:
        return this.sint(1 << (t - 0xd0));
      case 0xd9:
      case 0xda:
      case 0xdb:
        return this.str(this.uint(1 << (t - 0xd9)));
      case 0xdc:
      case 0xdd:
        return this.array(this.uint(t === 0xdc ? 2 : 4), depth);
      case 0xde:
      case 0xdf:
        return this.map(this.uint(t === 0xde ? 2 : 4), depth);
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return this.ext(1 << (t - 0xd4));
      case 0xc7:
      case 0xc8:
      case 0xc9:
        return this.ext(this.uint(1 << (t - 0xc7)));
      default:
        throw new FrameError(`msgpack: invalid type byte 0x${t.toString(16)}`);
    }
  }

  array(n, depth) {
    if (depth + 1 > MAX_DEPTH) throw new FrameError('msgpack: nesting too deep');
    this.need(n);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  map(n, depth) {
    if (depth + 1 > MAX_DEPTH) throw new FrameError('msgpack: nesting too deep');
    this.need(n * 2);
    const entries = [];
    let allStrings = true;
    for (let i = 0; i < n; i++) {
      const kind = this.peekKind();
      if (kind === 'map' || (kind === 'array' && this.mode !== 'body')) {
        throw new FrameError(`msgpack: a ${kind} as a map key`);
      }
      const k = this.value(depth + 1);
      if (typeof k !== 'string') allStrings = false;
      entries.push([k, this.value(depth + 1)]);
    }
    if (!allStrings) return new Map(entries); // non-string scalar keys from foreign producers
    const obj = Object.create(null);
    for (const [k, v] of entries) obj[k] = v;
    return obj;
  }

  ext(len) {
    const type = this.take(1).readInt8(0);
    const data = this.take(len);
    if (this.mode !== 'body') return { $ext: { type, data: Buffer.from(data) } };
    if (type !== -1) throw new FrameError(`msgpack: extension type ${type} refused`);
    // Standard timestamp extension: 32-bit, 64-bit or 96-bit form.
    let seconds;
    let nanoseconds;
    if (len === 4) {
      seconds = BigInt(data.readUInt32BE(0));
      nanoseconds = 0;
    } else if (len === 8) {
      const v = data.readBigUInt64BE(0);
      nanoseconds = Number(v >> 34n);
      seconds = v & 0x3ffffffffn;
    } else if (len === 12) {
      nanoseconds = data.readUInt32BE(0);
      seconds = data.readBigInt64BE(4);
    } else {
      throw new FrameError('msgpack: bad timestamp length');
    }
    if (nanoseconds > 999_999_999) throw new FrameError('msgpack: bad timestamp');
    // The reference decoder returns a datetime rounded to the microsecond: it must fall in
    // years 0001 to 9999 after rounding.
    const max = 253_402_300_799n;
    if (seconds < -62_135_596_800n || seconds > max || (seconds === max && nanoseconds >= 999_999_500)) {
      throw new FrameError('msgpack: timestamp outside years 1-9999');
    }
    return { $timestamp: { seconds: intOut(seconds), nanoseconds } };
  }
}

/** One complete msgpack value filling the whole buffer. */
export function unpackMsgpack(buf) {
  const r = new MsgpackReader(buf);
  const v = r.value();
  if (r.pos !== r.end) throw new FrameError('msgpack: trailing bytes after the value');
  return v;
}

// ---------------------------------------------------------------------------------------------
// Strict RFC 8259 JSON parser: integers outside the safe range become BigInt, depth <= 1024.
// (Also used to read the vector files, whose 64-bit nanosecond values JSON.parse would round.)

export function parseJson(text, ErrorClass = FrameError) {
  let i = 0;
  const fail = (msg) => {
    throw new ErrorClass(`JSON: ${msg} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const NUM = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const value = (depth) => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth + 1 > MAX_DEPTH) fail('nesting too deep');
      i++;
      ws();
      if (c === '[') {
        const out = [];
        if (text[i] === ']') {
          i++;
          return out;
        }
        for (;;) {
          out.push(value(depth + 1));
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            return out;
          } else fail('expected , or ]');
        }
      }
      const out = Object.create(null);
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const k = string();
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        out[k] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return out;
        } else fail('expected , or }');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) fail('unexpected character');
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const big = BigInt(m[0]);
      // Exact within the 64-bit range (signed or unsigned); read as a float beyond it.
      if (big >= -(1n << 63n) && big < 1n << 64n) return intOut(big);
    }
    const n = Number(m[0]);
    if (!Number.isFinite(n)) fail('number out of range');
    return n;
  };
  const ESC = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  const string = () => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i];
      if (c === '"') {
        i++;
        if (!out.isWellFormed()) fail('unpaired surrogate escape');
        return out;
      }
      if (c.charCodeAt(0) < 0x20) fail('control character in string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && Object.hasOwn(ESC, e)) {
          out += ESC[e];
          i += 2;
        } else fail('bad escape');
      } else {
        out += c;
        i++;
      }
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// ---------------------------------------------------------------------------------------------
// zstd frame header (RFC 8878 §3.1.1): only the declared content size is needed for step 9.

function zstdContentSize(body) {
  if (body.length < 5 || body.readUInt32LE(0) !== 0xfd2fb528) {
    throw new DecompressionError('body is not a zstd frame');
  }
  const fhd = body[4];
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  if (fhd & 0x08) throw new DecompressionError('zstd: reserved bit set');
  const didSize = [0, 1, 2, 4][fhd & 3];
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsSize === 0) throw new DecompressionError('zstd frame does not declare its content size');
  const off = 5 + (singleSegment ? 0 : 1) + didSize;
  if (body.length < off + fcsSize) throw new DecompressionError('zstd: truncated frame header');
  if (fcsSize === 1) return BigInt(body[off]);
  if (fcsSize === 2) return BigInt(body.readUInt16LE(off) + 256);
  if (fcsSize === 4) return BigInt(body.readUInt32LE(off));
  return body.readBigUInt64LE(off);
}

// ---------------------------------------------------------------------------------------------
// The decoder (docs/wire-format.md §1, §2, §3 and the decoding order of §4).

const MAGIC_0 = 0xc1;
const MAGIC_1 = 0x46;
const FIXED_END = 49;
const CLASSIFICATIONS = new Set(['public', 'internal', 'confidential', 'restricted']);
const U32_MAX = 0xffffffff;
const STR_KEYS = {
  7: 'tenant',
  8: 'classification',
  9: 'correlation_id',
  10: 'causation_id',
  11: 'traceparent',
  12: 'tracestate',
  16: 'signer_id',
};

function chars(s) {
  let n = 0;
  for (const _ of s) n++; // code points, not UTF-16 units
  return n;
}

function checkedStr(r, what) {
  if (r.peekKind() !== 'str') throw new FrameError(`${what}: must be a msgpack str`);
  const s = r.value();
  if (chars(s) > MAX_STR_CHARS) throw new FrameError(`${what}: longer than 1024 characters`);
  return s;
}

function checkedUint32(r, what) {
  if (r.peekKind() !== 'int') throw new FrameError(`${what}: must be a msgpack integer`);
  const v = r.value();
  if (typeof v !== 'number' || v < 0 || v > U32_MAX) throw new FrameError(`${what}: out of range`);
  return v;
}

/** Parses the extension map (§2), `buf[start:end]` exactly, into `ext`. */
function parseExtension(buf, start, end, opts, ext) {
  const r = new MsgpackReader(buf, start, end, 'ignored');
  if (r.peekKind() !== 'map') throw new FrameError('extension: not a msgpack map');
  const count = r.mapHeader();
  if (count > opts.maxHeaderEntries) throw new FrameError('extension: too many entries');
  const seen = new Set();
  for (let i = 0; i < count; i++) {
    if (r.peekKind() !== 'int') throw new FrameError('extension: key is not an integer');
    const key = r.value();
    const norm = String(key);
    if (seen.has(norm)) throw new FrameError(`extension: duplicate key ${norm}`);
    seen.add(norm);
    if (typeof key === 'number' && key >= 0 && key <= 6) {
      throw new FrameError(`extension: key ${key} is a fixed field`);
    }
    if (Object.hasOwn(STR_KEYS, key)) {
      ext[STR_KEYS[key]] = checkedStr(r, `extension key ${key}`);
    } else if (key === 13) {
      if (r.peekKind() !== 'map') throw new FrameError('extension key 13: must be a map');
      const n = r.mapHeader();
      if (n > opts.maxHeaderEntries) throw new FrameError('extension key 13: too many entries');
      const headers = Object.create(null);
      for (let j = 0; j < n; j++) {
        // Free headers are bounded by max_header_size only: no 1024-character limit.
        if (r.peekKind() !== 'str') throw new FrameError('header name: must be a msgpack str');
        const hk = r.value();
        if (r.peekKind() !== 'str') throw new FrameError('header value: must be a msgpack str');
        const hv = r.value();
        if (Object.hasOwn(headers, hk)) throw new FrameError('extension key 13: duplicate name');
        headers[hk] = hv;
      }
      ext.headers = headers;
    } else if (key === 14) {
      ext.dictionary_id = checkedUint32(r, 'extension key 14');
    } else if (key === 15) {
      ext.raw_size = checkedUint32(r, 'extension key 15');
    } else {
      r.value(1); // unknown integer key (>= 17, or negative): ignored, but must be well formed
    }
  }
  if (r.pos !== end) throw new FrameError('extension: trailing bytes after the map');
  if (ext.classification !== undefined && !CLASSIFICATIONS.has(ext.classification)) {
    throw new FrameError('extension: unknown classification');
  }
}

export const DEFAULTS = Object.freeze({
  maxFrameSize: 1 << 20,
  maxHeaderSize: 4096,
  maxHeaderEntries: 32,
  maxBodySize: 4 << 20,
  encryptClassifications: new Set(['confidential', 'restricted']),
  encryptedTypes: new Set(),
  requireSignatures: false,
});

/**
 * Decodes one frame received on `channel`. `opts`: keys (Map id -> 32-byte Buffer),
 * verifier (Map signer id -> Ed25519 KeyObject, or null), dictionaries (Map id -> Buffer),
 * and the limits/policy of DEFAULTS. Step 11 (schema) is the application's and is not run.
 */
export function decode(frame, channel, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const trace = [];
  // 1. frame size
  if (frame.length > opts.maxFrameSize) throw new FrameError('frame larger than max_frame_size');
  // 2. prefix
  if (frame.length >= 2 && (frame[0] !== MAGIC_0 || frame[1] !== MAGIC_1)) {
    throw new UnsupportedVersionError('bad magic: not a wire-format frame');
  }
  if (frame.length < 6) throw new FrameError('frame shorter than the prefix');
  if (frame[2] !== 1) throw new UnsupportedVersionError(`wire version ${frame[2]}`);
  const flags = frame[3];
  if (flags & 0x80) throw new FrameError('reserved flag bit set');
  const serializer = flags & 0x0f;
  const compressed = Boolean(flags & 0x10);
  const encrypted = Boolean(flags & 0x20);
  const signed = Boolean(flags & 0x40);
  // 3. header length
  const headerLen = frame.readUInt16LE(4);
  const headerEnd = 6 + headerLen;
  if (headerLen > opts.maxHeaderSize) throw new FrameError('header_len above max_header_size');
  if (headerEnd > frame.length) throw new FrameError('header runs past the end of the frame');
  if (frame.length < FIXED_END) throw new FrameError('frame shorter than the fixed header');
  if (headerLen < 44) throw new FrameError('header_len below 44');
  trace.push('prefix');
  // 4. fixed fields, then the extension map
  const producedAt = frame.readBigUInt64LE(22);
  if (producedAt >= 1n << 63n) throw new FrameError('produced at >= 2^63');
  const keyId = frame.readUInt32LE(42);
  if (!encrypted && keyId !== 0) throw new FrameError('key id set on an unencrypted frame');
  const typeLen = frame[46];
  const producerLen = frame.readUInt16LE(47);
  if (typeLen < 1) throw new FrameError('type_len is 0');
  if (producerLen > 1024) throw new FrameError('producer_len above 1024');
  const namesEnd = FIXED_END + typeLen + producerLen;
  if (namesEnd > headerEnd) throw new FrameError('names run past the header');
  const env = {
    message_id: frame.subarray(6, 22).toString('hex'),
    produced_at_ns: producedAt,
    sequence: frame.readBigUInt64LE(30),
    schema_version: frame.readUInt32LE(38),
    key_id: encrypted ? keyId : null,
    type: utf8(frame.subarray(FIXED_END, FIXED_END + typeLen), 'type'),
    producer_id: utf8(frame.subarray(FIXED_END + typeLen, namesEnd), 'producer id'),
  };
  const ext = {};
  if (namesEnd < headerEnd) parseExtension(frame, namesEnd, headerEnd, opts, ext);
  if (compressed !== (ext.raw_size !== undefined)) {
    throw new FrameError('key 15 (raw size) present iff compressed');
  }
  if (ext.dictionary_id !== undefined && !compressed) {
    throw new FrameError('key 14 (dictionary id) on an uncompressed frame');
  }
  if (signed !== (ext.signer_id !== undefined)) {
    throw new FrameError('key 16 (signer id) present iff signed');
  }
  Object.assign(env, {
    tenant: ext.tenant ?? null,
    classification: ext.classification ?? 'internal',
    correlation_id: ext.correlation_id ?? null,
    causation_id: ext.causation_id ?? null,
    traceparent: ext.traceparent ?? null,
    tracestate: ext.tracestate ?? null,
    headers: ext.headers ?? Object.create(null),
    signer_id: ext.signer_id ?? null,
    dictionary_id: ext.dictionary_id ?? null,
    raw_size: ext.raw_size ?? null,
  });
  trace.push('header');
  // 5. serializer
  if (serializer !== 0 && serializer !== 1) {
    throw new FrameError(`serializer id ${serializer} unknown`);
  }
  // 6. policy
  if (!encrypted) {
    if (opts.encryptedTypes.has(env.type)) throw new PolicyError('type must be encrypted');
    if (opts.encryptClassifications.has(env.classification)) {
      throw new PolicyError(`classification ${env.classification} must be encrypted`);
    }
  }
  trace.push('policy');
  // 7. signature
  let bodyEnd = frame.length;
  if (signed) {
    bodyEnd = frame.length - 64;
    if (bodyEnd < headerEnd) throw new FrameError('frame too short for its signature');
    if (opts.verifier) {
      const publicKey = opts.verifier.get(env.signer_id);
      if (publicKey === undefined) throw new SignatureError('unknown signer id');
      const c = Buffer.from(channel, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16LE(c.length);
      const message = Buffer.concat([len, c, frame.subarray(0, bodyEnd)]);
      if (!cryptoVerify(null, message, publicKey, frame.subarray(bodyEnd))) {
        throw new SignatureError('bad signature');
      }
      trace.push('signature verified');
    }
  } else if (opts.requireSignatures) {
    throw new SignatureError('unsigned frame where signatures are required');
  }
  let body = frame.subarray(headerEnd, bodyEnd);
  // 8. decryption
  if (encrypted) {
    const key = opts.keys?.get(keyId);
    if (key === undefined) throw new UnknownKeyError(`key id ${keyId}`);
    if (body.length < 28) throw new DecryptionError('frame failed authentication');
    env.nonce = body.subarray(0, 12).toString('hex');
    const aad = Buffer.concat([frame.subarray(0, headerEnd), Buffer.from(channel, 'utf8')]);
    try {
      const d = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12), { authTagLength: 16 });
      d.setAAD(aad);
      d.setAuthTag(body.subarray(body.length - 16));
      body = Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]);
    } catch {
      throw new DecryptionError('frame failed authentication');
    }
    trace.push('decrypted');
  }
  // 9. decompression
  if (compressed) {
    if (env.raw_size > opts.maxBodySize) throw new DecompressionError('raw size above the cap');
    if (zstdContentSize(body) !== BigInt(env.raw_size)) {
      throw new DecompressionError('zstd content size differs from raw size');
    }
    let dictionary;
    if (env.dictionary_id !== null) {
      dictionary = opts.dictionaries?.get(env.dictionary_id);
      if (dictionary === undefined) throw new DecompressionError('unknown dictionary');
    }
    trace.push('zstd header checked');
    if (!HAS_ZSTD) {
      const err = new Unsupported('zstd not available in this Node.js zlib');
      err.trace = trace;
      throw err;
    }
    try {
      const zopts = { maxOutputLength: Math.max(env.raw_size, 1) };
      if (dictionary !== undefined) zopts.dictionary = dictionary;
      body = zlib.zstdDecompressSync(body, zopts);
    } catch (e) {
      throw new DecompressionError(`zstd: ${e.message}`);
    }
    if (body.length !== env.raw_size) throw new DecompressionError('size differs from raw size');
    trace.push('decompressed');
  }
  // 10. deserialise
  env.payload = serializer === 0 ? unpackMsgpack(body) : parseJson(utf8(body, 'JSON body'));
  env.flags = { serializer: serializer === 0 ? 'msgpack' : 'json', compressed, encrypted, signed };
  env.trace = trace;
  return env;
}

// ---------------------------------------------------------------------------------------------
// Encoder (docs/wire-format.md §2 "Encoding the extension map" and §3), used to check that the
// inputs of every uncompressed vector re-encode to the same bytes.

function packMsgpack(v, out = []) {
  const push = (...bytes) => out.push(Buffer.from(bytes));
  const be = (n, size) => {
    const b = Buffer.alloc(size);
    if (size === 1) b.writeUInt8(n);
    else if (size === 2) b.writeUInt16BE(n);
    else if (size === 4) b.writeUInt32BE(n);
    else b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  const head = (n, fix, fixMax, t16, t32, t8) => {
    if (n <= fixMax) push(fix | n);
    else if (t8 !== undefined && n <= 0xff) out.push(Buffer.from([t8, n]));
    else if (n <= 0xffff) out.push(Buffer.from([t16]), be(n, 2));
    else out.push(Buffer.from([t32]), be(n, 4));
  };
  if (v === null) push(0xc0);
  else if (v === true) push(0xc3);
  else if (v === false) push(0xc2);
  else if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) {
    const n = BigInt(v);
    if (n >= 0n) {
      if (n <= 0x7fn) push(Number(n));
      else if (n <= 0xffn) push(0xcc, Number(n));
      else if (n <= 0xffffn) out.push(Buffer.from([0xcd]), be(Number(n), 2));
      else if (n <= 0xffffffffn) out.push(Buffer.from([0xce]), be(Number(n), 4));
      else out.push(Buffer.from([0xcf]), be(n, 8));
    } else if (n >= -32n) push(Number(n) & 0xff);
    else {
      const size = n >= -0x80n ? 1 : n >= -0x8000n ? 2 : n >= -0x80000000n ? 4 : 8;
      const b = Buffer.alloc(size);
      if (size === 1) b.writeInt8(Number(n));
      else if (size === 2) b.writeInt16BE(Number(n));
      else if (size === 4) b.writeInt32BE(Number(n));
      else b.writeBigInt64BE(n);
      out.push(Buffer.from([{ 1: 0xd0, 2: 0xd1, 4: 0xd2, 8: 0xd3 }[size]]), b);
    }
  } else if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v, 1);
    out.push(b);
  } else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    head(b.length, 0xa0, 31, 0xda, 0xdb, 0xd9);
    out.push(b);
  } else if (Buffer.isBuffer(v)) {
    head(v.length, 0, -1, 0xc5, 0xc6, 0xc4);
    out.push(v);
  } else if (Array.isArray(v)) {
    head(v.length, 0x90, 15, 0xdc, 0xdd);
    for (const x of v) packMsgpack(x, out);
  } else {
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
    head(entries.length, 0x80, 15, 0xde, 0xdf);
    for (const [k, x] of entries) {
      packMsgpack(k, out);
      packMsgpack(x, out);
    }
  }
  return out;
}

function dumpJson(v) {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('no JSON form');
    return String(v); // integers only are byte-stable across implementations (§3)
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(dumpJson).join(',')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${JSON.stringify(k)}:${dumpJson(x)}`)
    .join(',')}}`;
}

/** Builds the frame of vector `v` from its inputs (uncompressed vectors only). */
export function encodeVector(v, doc) {
  const ext = new Map();
  const optional = [
    [7, v.tenant],
    [9, v.correlation_id],
    [10, v.causation_id],
    [11, v.traceparent],
    [12, v.tracestate],
  ];
  for (const [k, x] of optional) if (x !== null && x !== undefined) ext.set(k, x);
  if (v.headers && Object.keys(v.headers).length > 0) ext.set(13, v.headers);
  if (v.classification && v.classification !== 'internal') ext.set(8, v.classification);
  if (v.signed) ext.set(16, doc.signer.id);
  const type = Buffer.from(v.type, 'utf8');
  const producer = Buffer.from(v.producer_id, 'utf8');
  const extBytes = ext.size > 0 ? Buffer.concat(packMsgpack(ext)) : Buffer.alloc(0);
  const keyIds = Object.keys(doc.keys ?? {});
  const keyId = v.encrypted ? Number(keyIds[0]) : 0;
  const fixed = Buffer.alloc(49);
  fixed.set([0xc1, 0x46, 1], 0);
  fixed[3] =
    (v.serializer === 'json' ? 1 : 0) | (v.encrypted ? 0x20 : 0) | (v.signed ? 0x40 : 0);
  fixed.writeUInt16LE(43 + type.length + producer.length + extBytes.length, 4);
  Buffer.from(v.message_id, 'hex').copy(fixed, 6);
  fixed.writeBigUInt64LE(BigInt(v.produced_at_ns), 22);
  fixed.writeBigUInt64LE(BigInt(v.sequence), 30);
  fixed.writeUInt32LE(v.schema_version, 38);
  fixed.writeUInt32LE(keyId, 42);
  fixed[46] = type.length;
  fixed.writeUInt16LE(producer.length, 47);
  const head = Buffer.concat([fixed, type, producer, extBytes]);
  const channel = Buffer.from(v.channel, 'utf8');
  let body =
    v.serializer === 'json'
      ? Buffer.from(dumpJson(v.payload), 'utf8')
      : Buffer.concat(packMsgpack(v.payload));
  if (v.encrypted) {
    const nonce = Buffer.from(v.nonce, 'hex');
    const c = createCipheriv('aes-256-gcm', Buffer.from(doc.keys[keyIds[0]], 'hex'), nonce);
    c.setAAD(Buffer.concat([head, channel]));
    body = Buffer.concat([nonce, c.update(body), c.final(), c.getAuthTag()]);
  }
  let frame = Buffer.concat([head, body]);
  if (v.signed) {
    // Raw 32-byte Ed25519 seed wrapped in its fixed PKCS#8 DER prefix (RFC 8410).
    const pkcs8 = Buffer.concat([
      Buffer.from('302e020100300506032b657004220420', 'hex'),
      Buffer.from(doc.signer.seed, 'hex'),
    ]);
    const sk = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const len = Buffer.alloc(2);
    len.writeUInt16LE(channel.length);
    frame = Buffer.concat([frame, cryptoSign(null, Buffer.concat([len, channel, frame]), sk)]);
  }
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Vector runner

function deepEqual(a, b) {
  if (a === b) return true;
  if ((typeof a === 'number' || typeof a === 'bigint') && typeof b === typeof a) return a === b;
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    try {
      return BigInt(a) === BigInt(b);
    } catch {
      return false;
    }
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) {
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

const COMPARED = [
  'message_id',
  'type',
  'schema_version',
  'produced_at_ns',
  'producer_id',
  'sequence',
  'tenant',
  'classification',
  'correlation_id',
  'causation_id',
  'traceparent',
  'tracestate',
  'headers',
  'payload',
  'dictionary_id',
];

function optionsFor(doc) {
  const keys = new Map();
  for (const [id, hex] of Object.entries(doc.keys ?? {})) keys.set(Number(id), Buffer.from(hex, 'hex'));
  const verifier = new Map();
  if (doc.signer) {
    // Raw 32-byte Ed25519 public key wrapped in its fixed SPKI DER prefix (RFC 8410).
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(doc.signer.public_key, 'hex'),
    ]);
    verifier.set(doc.signer.id, createPublicKey({ key: spki, format: 'der', type: 'spki' }));
  }
  const dictionaries = new Map();
  for (const [id, hex] of Object.entries(doc.dictionaries ?? {})) {
    dictionaries.set(Number(id), Buffer.from(hex, 'hex'));
  }
  return { keys, verifier, dictionaries };
}

function checkVector(v, doc, opts) {
  const env = decode(Buffer.from(v.frame, 'hex'), v.channel, opts);
  const diffs = [];
  for (const field of COMPARED) {
    if (!Object.hasOwn(v, field)) continue;
    if (!deepEqual(env[field], v[field])) diffs.push(field);
  }
  for (const flag of ['serializer', 'compressed', 'encrypted', 'signed']) {
    if (Object.hasOwn(v, flag) && env.flags[flag] !== v[flag]) diffs.push(`flags.${flag}`);
  }
  // The vectors do not list the key id: an encrypted one names a key of `keys`, others none.
  if (v.encrypted ? !opts.keys.has(env.key_id) : env.key_id !== null) diffs.push('key_id');
  if (v.encrypted && v.nonce && env.nonce !== v.nonce) diffs.push('nonce');
  if (v.signed && env.signer_id !== doc.signer?.id) diffs.push('signer_id');
  // Re-encoding: compressed bytes may differ between zstd versions (§7), so only the others.
  const reencode = !v.compressed;
  if (reencode && encodeVector(v, doc).toString('hex') !== v.frame) diffs.push('re-encoded bytes');
  return { env, diffs, reencoded: reencode && diffs.length === 0 };
}

function run(files) {
  const summary = {
    decoder: 'tests/interop/wire_v1.mjs',
    node: process.version,
    zstd: HAS_ZSTD,
    files: [],
    checked: 0,
    passed: 0,
    reencoded: 0,
    skipped: [],
    failures: [],
    not_checked: ['step 11 (schema registry, upcasting, validation) is the application\'s'],
  };
  for (const file of files) {
    const doc = parseJson(readFileSync(file, 'utf8'), Error);
    const opts = optionsFor(doc);
    const counts = { file, vectors: (doc.vectors ?? []).length, invalid: (doc.invalid ?? []).length };
    summary.files.push(counts);
    for (const v of doc.vectors ?? []) {
      const id = { file, kind: 'vector', name: v.name };
      try {
        const { diffs, reencoded } = checkVector(v, doc, opts);
        summary.checked++;
        if (reencoded) summary.reencoded++;
        if (diffs.length === 0) summary.passed++;
        else summary.failures.push({ ...id, reason: `decoded fields differ: ${diffs.join(', ')}` });
      } catch (e) {
        if (e instanceof Unsupported) {
          summary.skipped.push({ ...id, reason: e.message, checked_steps: e.trace });
        } else {
          summary.checked++;
          summary.failures.push({ ...id, reason: `refused: ${e.name}: ${e.message}` });
        }
      }
    }
    for (const v of doc.invalid ?? []) {
      const id = { file, kind: 'invalid', name: v.name };
      summary.checked++;
      let outcome;
      try {
        decode(Buffer.from(v.frame, 'hex'), v.channel, opts);
        outcome = { ...id, reason: `accepted, expected ${v.error}` };
      } catch (e) {
        if (e instanceof Unsupported) {
          summary.checked--;
          summary.skipped.push({ ...id, reason: e.message, checked_steps: e.trace });
          continue;
        }
        const expected = ERRORS[v.error];
        const ok = expected !== undefined && e instanceof expected;
        if (ok) summary.passed++;
        else outcome = { ...id, reason: `refused with ${e.name}: ${e.message}, expected ${v.error}` };
      }
      if (outcome) summary.failures.push(outcome);
    }
  }
  return summary;
}

function defaultFiles() {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors');
  return readdirSync(dir)
    .filter((f) => /^wire-v1.*\.json$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args : defaultFiles();
  const summary = run(files);
  if (files.length === 0) summary.failures.push({ reason: 'no vector file found' });
  const json = JSON.stringify(summary, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  process.stdout.write(`${json}\n`);
  process.exitCode = summary.failures.length === 0 ? 0 : 1;
}
