#include "process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "errors.h"

namespace airlock {
namespace {

// setParentDeathSignal(signal: number, expectedParentPid: number): void
// The kernel sends `signal` to this process when its parent dies, even while JS is stuck in
// native code that never returns to the event loop. If the parent already died before the
// call (we were re-parented), the signal is raised at once: the race prctl leaves open.
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "setParentDeathSignal(signal, expectedParentPid) takes two numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int sig = info[0].As<Napi::Number>().Int32Value();
  pid_t expected = static_cast<pid_t>(info[1].As<Napi::Number>().Int32Value());
  if (prctl(PR_SET_PDEATHSIG, sig) != 0) return ThrowErrno(env, "prctl(PR_SET_PDEATHSIG)");
  if (getppid() != expected) raise(sig);
  return env.Undefined();
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal, "setParentDeathSignal"));
}

}  // namespace airlock
