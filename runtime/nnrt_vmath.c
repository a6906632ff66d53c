/* nnrt_vmath.c — nnrt_vmath.h's functions as external definitions, for
 * the LLVM backend's modules: the C backend's files inline the header's
 * static copies, the LLVM backend calls these (from the runtime's archive
 * below -O3; at -O3 from its bitcode, inlined into the kernels). The same
 * source either way, so the same bits. */
#define NNRT_VMATH
#include "nnrt_vmath.h"
