//! One cause type for every protocol (SIP status, Q.850 cause, H.225 reason).
