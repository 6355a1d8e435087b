// Interrupt: SIGINT/SIGTERM/SIGHUP turn into a flag that long-running
// preparation loops (convert) poll between chunks, so that they stop,
// unwind, and delete their temporary output instead of dying mid-write.
//
// Thread-safety: Interrupted() may be called from any thread; Install()
// once, from main's thread, before the work starts.
#pragma once

namespace luksfs::fs::prep {

void InstallInterruptHandler();
bool Interrupted();
// The signal that was caught, 0 if none.
int InterruptSignal();

}  // namespace luksfs::fs::prep
