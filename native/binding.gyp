{
  "targets": [
    {
      "target_name": "snapkeep",
      "sources": [
        "src/addon.cc",
        "src/caller_fs.cc",
        "src/errors.cc",
        "src/file_lock.cc",
        "src/fs_extents.cc",
        "src/fs/ext4_used_blocks.cc",
        "src/fs/used_blocks_binding.cc",
        "src/kmod_ctl.cc",
        "src/kmod/ctl.cc",
        "src/libraries.cc",
        "src/peercred.cc",
        "src/engine/binding.cc",
        "src/engine/chunk_index.cc",
        "src/engine/chunk_list.cc",
        "src/engine/compress.cc",
        "src/engine/crypto.cc",
        "src/engine/crypto_openssl.cc",
        "src/engine/engine_error.cc",
        "src/engine/envelope.cc",
        "src/engine/file_io.cc",
        "src/engine/gc.cc",
        "src/engine/index_file.cc",
        "src/engine/index_format.cc",
        "src/engine/index_table.cc",
        "src/engine/pack_format.cc",
        "src/engine/pack_reader.cc",
        "src/engine/pack_writer.cc",
        "src/engine/pipeline_backup.cc",
        "src/engine/pipeline_restore.cc",
        "src/engine/restore_resume.cc",
        "src/engine/repo_dir.cc",
        "src/engine/repo_dir_binding.cc",
        "src/engine/source_reader.cc",
        "src/engine/verifier.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../kmod/include/uapi"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_ADDON_API_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Werror=return-type",
        "<!@(pkg-config --cflags libzstd libsodium libcrypto ext2fs)"
      ],
      "libraries": ["<!@(pkg-config --libs libzstd libsodium libcrypto ext2fs)"]
    }
  ]
}
