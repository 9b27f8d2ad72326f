#include "process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"

namespace airlock {
namespace {

// The signal the kernel sends a worker when its parent dies. A real-time signal that neither
// Node, libuv nor V8 uses, so that this handler is the only one.
int ParentDeathSignal() { return SIGRTMAX - 1; }

// Kills the worker's whole process group, itself included: the worker leads its own group
// (the pool spawns it detached), so this reaches every process it started that did not leave
// the group. kill() is async-signal-safe, and the handler runs even while JavaScript is stuck
// in native code that never returns to the event loop.
void KillProcessGroup(int) { kill(0, SIGKILL); }

// killGroupOnParentDeath(expectedParentPid: number): void
// When the parent dies, the kernel signals this process, whose handler kills its process group.
// If the parent already died before the call (we were re-parented), the group dies at once:
// the race prctl leaves open.
Napi::Value KillGroupOnParentDeath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "killGroupOnParentDeath(expectedParentPid) takes a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  pid_t expected = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  struct sigaction action = {};
  action.sa_handler = KillProcessGroup;
  sigemptyset(&action.sa_mask);
  if (sigaction(ParentDeathSignal(), &action, nullptr) != 0) return ThrowErrno(env, "sigaction");
  if (prctl(PR_SET_PDEATHSIG, ParentDeathSignal()) != 0) return ThrowErrno(env, "prctl(PR_SET_PDEATHSIG)");
  if (getppid() != expected) KillProcessGroup(0);
  return env.Undefined();
}

// peerCredentials(fd: number): { pid, uid, gid }
// Who is at the other end of a connected Unix socket, as the kernel recorded it when the peer
// connected (SO_PEERCRED): a peer cannot forge it, so a server can authorize by uid or gid.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peerCredentials(fd) takes a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred credentials = {};
  socklen_t length = sizeof credentials;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return ThrowErrno(env, "getsockopt(SO_PEERCRED)");
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, credentials.pid));
  result.Set("uid", Napi::Number::New(env, credentials.uid));
  result.Set("gid", Napi::Number::New(env, credentials.gid));
  return result;
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("killGroupOnParentDeath", Napi::Function::New(env, KillGroupOnParentDeath, "killGroupOnParentDeath"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
}

}  // namespace airlock
