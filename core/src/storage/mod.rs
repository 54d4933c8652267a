//! What is stored and what storing costs: the backends and their limits (`backend`), the
//! record and its format (`record`), the memory tier's map (`s3fifo`: S3-FIFO queues with a
//! TinyLFU admission from its frequency sketch, `sketch`) and byte counts (`heap`), the LRU the
//! isolate's smaller caches use (`lru`), and the errors a backend reports (`error`).

pub mod backend;
pub mod error;
pub mod heap;
pub mod lru;
pub mod record;
pub mod s3fifo;
pub mod sketch;
