// Prints what binding.gyp needs to compile and link against libtorch.
// Debian's libtorch-dev by default; any libtorch tree (e.g. the official zip, or a CUDA build) through LIBTORCH.
const fs = require("fs");
const path = require("path");

function locate() {
  const root = process.env.LIBTORCH;
  if (root) {
    const lib = path.join(root, "lib");
    if (!fs.existsSync(path.join(root, "include", "ATen", "ATen.h"))) {
      throw new Error(`LIBTORCH=${root} has no include/ATen/ATen.h`);
    }
    return { include: [path.join(root, "include"), path.join(root, "include/torch/csrc/api/include")], lib };
  }
  const multiarch = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
  if (!fs.existsSync("/usr/include/ATen/ATen.h")) {
    throw new Error("libtorch headers not found: install Debian's libtorch-dev (bash setup.sh does) or set LIBTORCH");
  }
  return { include: ["/usr/include/torch/csrc/api/include"], lib: multiarch };
}

const where = locate();
const what = process.argv[2];
if (what === "include") console.log(where.include.join(" "));
else if (what === "libdir") console.log(where.lib);
else if (what === "libs") {
  const libs = ["-ltorch", "-ltorch_cpu", "-lc10"];
  // A CUDA build of libtorch registers its kernels from libtorch_cuda; keep it linked even if no symbol is used.
  if (fs.existsSync(path.join(where.lib, "libtorch_cuda.so"))) libs.push("-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed");
  console.log(libs.join(" "));
}
