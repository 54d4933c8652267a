//! What is stored and what storing costs: the backends and their limits (`backend`), the
//! record and its format (`record`), what a hit reads of a stored body (`read`), the memory
//! tier's LRU (`lru`) and byte counts (`heap`), and the errors a backend reports (`error`).

pub mod backend;
pub mod error;
pub mod heap;
pub mod lru;
pub mod read;
pub mod record;
