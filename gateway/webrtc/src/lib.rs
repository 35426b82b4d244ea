//! WebRTC legs, sans-IO: the str0m state machine behind a small API the
//! runtime drives (bytes in, bytes and events out, time as an argument).
