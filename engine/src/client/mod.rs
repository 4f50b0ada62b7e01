//! Client code that talks to the cluster over the wire: the cluster connection (metadata and
//! leader routing) that producers, consumers and admin tools share.

pub mod cluster;

pub use cluster::{ClusterClient, ClusterClientOptions, ClusterError};
