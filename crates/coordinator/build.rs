//! Compiles `proto/coordinator.proto` with protox (pure Rust, so no
//! `protoc` is needed on the build machine) and generates the tonic client
//! and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/coordinator.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["../../proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
