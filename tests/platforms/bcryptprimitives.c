/*
 * A stand-in bcryptprimitives.dll for running the Windows tests under Wine 8 (Debian 12's),
 * which lacks that DLL. Rust's standard library (1.78 and later) and the getrandom crate
 * import ProcessPrng from it, which Windows 10 and later provide; this stand-in forwards to
 * RtlGenRandom (advapi32's SystemFunction036), the CSPRNG Windows has had since XP.
 *
 * Test runs only: tests/platforms.sh copies it beside the test programs. It is never
 * installed or shipped; on Windows the system's own bcryptprimitives.dll is used.
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000u ? 0x10000000u : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
