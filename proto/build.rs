//! Generates the `subcap.v1` prost types, tonic stubs and their canonical JSON (pbjson) mapping.
//! protoc comes from `protoc-bin-vendored`, so a fresh machine needs none installed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Build scripts are single-threaded, so setting the environment cannot race; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let include = protoc_bin_vendored::include_path()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = out_dir.join("subcap_descriptor.bin");
    let protos = [
        PathBuf::from("proto/subcap/v1/report.proto"),
        PathBuf::from("proto/subcap/v1/service.proto"),
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .file_descriptor_set_path(&descriptors)
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_protos(&protos, &[PathBuf::from("proto"), include])?;
    let set = std::fs::read(&descriptors)?;
    pbjson_build::Builder::new()
        .register_descriptors(&set)?
        .build(&[".subcap"])?;
    Ok(())
}
