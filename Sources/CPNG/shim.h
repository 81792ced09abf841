#ifndef DETECTOR_CPNG_SHIM_H
#define DETECTOR_CPNG_SHIM_H
// libpng's simplified API (png_image_*): errors come back as return codes and a message,
// never as a longjmp, which Swift could not catch.
#include <png.h>
#endif
