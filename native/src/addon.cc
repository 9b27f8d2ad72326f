#include <napi.h>

#include "memory.h"
#include "process.h"

namespace {

// Bumped whenever the JS side relies on a new native export, so that a stale build is
// reported as such instead of failing with "is not a function".
constexpr uint32_t kAbiVersion = 4;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  airlock::InitProcess(env, exports);
  airlock::InitMemory(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(airlock, Init)
