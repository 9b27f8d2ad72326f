// The worker of the ffi example: declares C functions of libz and libc with koffi and calls
// them. FFI skips every safety check a binding would make, so a bad argument is a crash: here,
// it is this worker's, not the caller's.
import type Koffi from "koffi" with { "resolution-mode": "import" };
import { AirlockError, Code, serve } from "airlock";
import { CLibServiceDefinition } from "./gen/clib/v1/clib_airlock.js";

// koffi's package is an ES module whose one .d.ts TypeScript will not let CommonJS import; its
// require() entry works, so load that and borrow the types.
const koffi = require("koffi") as typeof Koffi;

const zlib = koffi.load("libz.so.1");
const crc32 = zlib.func("unsigned long crc32(unsigned long crc, const uint8_t *buf, unsigned int len)");
const compressBound = zlib.func("unsigned long compressBound(unsigned long sourceLen)");
const compress2 = zlib.func("int compress2(_Out_ uint8_t *dest, _Inout_ unsigned long *destLen, const uint8_t *source, unsigned long sourceLen, int level)");
const libc = koffi.load("libc.so.6");
const strlen = libc.func("size_t strlen(const char *s)");

const zStreamError = -2;

serve(CLibServiceDefinition, {
  crc32: (request) => ({ crc: crc32(0, request.data, request.data.length) as number }),
  compress(request) {
    const out = new Uint8Array(compressBound(request.data.length) as number);
    const outLength = [out.length];
    const status = compress2(out, outLength, request.data, request.data.length, request.level) as number;
    if (status === zStreamError) throw new AirlockError(Code.InvalidArgument, `compress2: level ${request.level} is not in 0..9`);
    if (status !== 0) throw new AirlockError(Code.Internal, `compress2 failed with zlib status ${status}`);
    return { compressed: out.subarray(0, outLength[0]) };
  },
  // No check on purpose: this is the bug the example shows. `undefined` goes to C as NULL.
  strlen: (request) => ({ length: BigInt(strlen(request.text ?? null) as number) }),
});
