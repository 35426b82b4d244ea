//! dtmf
