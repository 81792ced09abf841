#ifndef DETECTOR_COPENBLAS_SHIM_H
#define DETECTOR_COPENBLAS_SHIM_H
#include <cblas.h>
// Thread control of OpenBLAS (not in cblas.h on every version).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
