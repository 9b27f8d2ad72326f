#pragma once
#include <napi.h>

namespace airlock {
void InitProcess(Napi::Env env, Napi::Object exports);
}
