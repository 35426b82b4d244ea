//! Any byte stream on TCP 1720: TPKT frames, each a Q.931 message whose
//! User-user IE holds an H323-UserInformation; nothing panics.
#![no_main]
use gateway_h323::h225::H323UserInformation;
use gateway_h323::q931::Message;
use gateway_h323::tpkt::TpktFramer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut framer = TpktFramer::new(65535);
    // split the input in two reads at a point the input chooses
    let cut = data.first().map(|b| *b as usize % (data.len() + 1)).unwrap_or(0);
    for part in [&data[..cut], &data[cut..]] {
        framer.push(part);
        while let Ok(Some(frame)) = framer.next_frame() {
            if let Ok(m) = Message::parse(&frame) {
                if let Some(uu) = m.user_user() {
                    if let Ok(ui) = H323UserInformation::decode(uu) {
                        if let Ok(again) = ui.encode() {
                            assert_eq!(H323UserInformation::decode(&again).as_ref(), Ok(&ui));
                        }
                    }
                }
                let _ = m.build();
            }
        }
    }
    let _ = Message::parse(data);
});
