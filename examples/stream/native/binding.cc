// The Node binding of libtiles: converts arguments and calls straight through. It checks
// JavaScript types only; the library's own bug is left for airlock to contain.
#include <napi.h>

#include "tiles.h"

namespace {

// render(left, top, size, width, height, centerX, centerY, scale, maxIter): Uint8Array
Napi::Value Render(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 9; i++) {
    if (!info[i].IsNumber()) {
      Napi::TypeError::New(env, "render(left, top, size, width, height, centerX, centerY, scale, maxIter): numbers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  int size = info[2].As<Napi::Number>().Int32Value();
  if (size <= 0 || size > 4096) {
    Napi::RangeError::New(env, "render: size must be 1 to 4096").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array out = Napi::Uint8Array::New(env, (size_t)size * size);
  tiles_render(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), size, info[3].As<Napi::Number>().Int32Value(),
               info[4].As<Napi::Number>().Int32Value(), info[5].As<Napi::Number>().DoubleValue(), info[6].As<Napi::Number>().DoubleValue(),
               info[7].As<Napi::Number>().DoubleValue(), info[8].As<Napi::Number>().Int32Value(), out.Data());
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("render", Napi::Function::New(env, Render, "render"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tiles, Init)
