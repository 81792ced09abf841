#ifndef DETECTOR_CJPEG_SHIM_H
#define DETECTOR_CJPEG_SHIM_H
// libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0-dev, 2.1 on Debian 12). Its
// functions report errors as return codes with a message (tjGetErrorStr2) and a severity
// (tjGetErrorCode), unlike the classic libjpeg API, whose error_exit must not return and is
// a longjmp in practice, which Swift cannot catch. JPEG.swift calls it directly.
#include <turbojpeg.h>

#endif
