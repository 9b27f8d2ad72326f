#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace airlock {

// A failed system call becomes a JS Error whose `code` is the errno name (ENOMEM, EBADF...)
// and whose `syscall` names the call, like Node's own fs errors.
inline Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err = errno) {
  const char* name = strerrorname_np(err);
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + " failed: " + (name ? name : "errno " + std::to_string(err)) + " (" + std::strerror(err) + ")");
  error.Set("code", Napi::String::New(env, name ? name : "E" + std::to_string(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace airlock
