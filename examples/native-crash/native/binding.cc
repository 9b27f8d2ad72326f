// The Node binding of libfragile: converts arguments and calls straight through. It checks
// JavaScript types only; the library's own bugs are left for airlock to contain.
#include <napi.h>

#include <string>
#include <vector>

#include "fragile.h"

namespace {

// Throws a TypeError and returns undefined: NAPI_DISABLE_CPP_EXCEPTIONS means no C++ throw.
Napi::Value TypeError(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// format(pattern: string, args: bigint[]): string
Napi::Value Format(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsArray()) return TypeError(env, "format(pattern: string, args: bigint[])");
  std::string pattern = info[0].As<Napi::String>().Utf8Value();
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<int64_t> args;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value arg = list.Get(i);
    if (!arg.IsBigInt()) return TypeError(env, "format: every argument must be a bigint");
    bool lossless = false;
    args.push_back(arg.As<Napi::BigInt>().Int64Value(&lossless));
  }
  char out[FRAGILE_LINE_MAX];
  size_t length = fragile_format(pattern.c_str(), args.data(), args.size(), out, sizeof out);
  return Napi::String::New(env, out, length < sizeof out ? length : sizeof out - 1);
}

// checksum(data: Uint8Array): number
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) return TypeError(env, "checksum(data: Uint8Array)");
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  return Napi::Number::New(env, fragile_checksum(data.Data(), data.ByteLength()));
}

// unescape(text: string): string
Napi::Value Unescape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return TypeError(env, "unescape(text: string)");
  std::string text = info[0].As<Napi::String>().Utf8Value();
  std::string out(text.size() + 1, '\0');
  size_t length = fragile_unescape(text.c_str(), out.data());
  return Napi::String::New(env, out.data(), length);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("format", Napi::Function::New(env, Format, "format"));
  exports.Set("checksum", Napi::Function::New(env, Checksum, "checksum"));
  exports.Set("unescape", Napi::Function::New(env, Unescape, "unescape"));
  return exports;
}

}  // namespace

NODE_API_MODULE(fragile, Init)
