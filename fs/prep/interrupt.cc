#include "fs/prep/interrupt.h"

#include <csignal>
#include <initializer_list>

namespace luksfs::fs::prep {

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void OnSignal(int sig) { g_signal = sig; }
}  // namespace

void InstallInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

bool Interrupted() { return g_signal != 0; }
int InterruptSignal() { return g_signal; }

}  // namespace luksfs::fs::prep
