//! plc
