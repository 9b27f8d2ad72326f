#pragma once
#include <napi.h>

namespace airlock {
void InitMemory(Napi::Env env, Napi::Object exports);
}
