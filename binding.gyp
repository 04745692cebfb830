{
  "targets": [
    {
      "target_name": "pft_native",
      "sources": ["native/addon.cc", "native/attention.cc", "native/attention_bf16.cc", "native/allocator.cc", "native/linear.cc", "native/layer_norm.cc", "native/gelu.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node native/torch-paths.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": [
        "-L<!(node native/torch-paths.cjs libdir)",
        "-Wl,-rpath,<!(node native/torch-paths.cjs libdir)",
        "<!@(node native/torch-paths.cjs libs)",
        "-ldl",
        "-fopenmp"
      ]
    }
  ]
}
