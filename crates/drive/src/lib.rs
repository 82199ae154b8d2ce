//! The drive domain: who is calling and what they may reach, drives, items, names and paths,
//! uploads and downloads. It speaks in domain types only: no HTTP, no JSON.

pub mod access;
pub mod admin;
pub mod content;
pub mod copy;
pub mod delta;
pub mod drives;
pub mod error;
pub mod identities;
pub mod ids;
pub mod items;
pub mod jobs;
pub mod maintenance;
pub mod names;
pub mod recycle;
pub mod service;
pub mod signin;
pub mod status;
pub mod tokens;
pub mod uploads;
pub mod versions;

pub use access::{Caller, CallerKind, Need};
pub use error::{DriveError, Result};
pub use service::{DriveConfig, DriveService};
