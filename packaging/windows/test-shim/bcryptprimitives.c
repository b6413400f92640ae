/*
 * TEST ONLY: a stand-in for Windows' bcryptprimitives.dll under Wine 8, which lacks it.
 *
 * Rust 1.78 and later make every Windows executable import ProcessPrng from
 * bcryptprimitives.dll (std's random numbers, HashMap seeds). Windows 10 and later have it;
 * Debian 12's Wine 8.0 does not, and the exe then fails to start with status c0000135.
 * packaging/windows/check-wine.sh builds this file with x86_64-w64-mingw32-gcc and puts the DLL
 * beside the exe it runs under Wine. It is never shipped: the installer must not contain it.
 */
#include <windows.h>

/* advapi32's RtlGenRandom, exported under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG: fill larger requests in pieces. */
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
