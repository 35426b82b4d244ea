//! ogg
