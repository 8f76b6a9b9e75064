//! The generated gRPC types and services of `proto/coordinator.proto`.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("shoal.coordinator.v1");
