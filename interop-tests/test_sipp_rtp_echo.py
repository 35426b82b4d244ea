"""Media through the gateway: SIPp plays a G.711 A-law pcap, the far SIPp echoes.

The calling SIPp offers PCMA with telephone-event; the answering one takes
PCMU without it. So the gateway transcodes PCMA↔PCMU, and the RFC 2833 digit
the pcap scenario plays after the audio reaches the far SIPp as SIP INFO."""


import time

from harness import ports
from harness.capture import count, start_capture


def test_sipp_rtp_echo(gateway, sipp, procs):
    scenario = sipp.pcap_scenario()
    echo_port = 6100
    ports.require_free(echo_port, "SIPp's RTP echo")
    # SIPp gives each concurrent call its own media port, 4 apart.
    uac_media = ports.port(step=12)
    pcap = sipp.workdir / "media.pcap"
    # Independent witness: what reached each SIPp's media port.
    cap = start_capture(procs, pcap, f"udp and (dst port {echo_port} or dst portrange {uac_media}-{uac_media + 11})")
    # -aa answers the INFO; -trace_msg keeps what the far SIPp received.
    sipp.uas(extra=["-mi", "127.0.0.1", "-rtp_echo", "-mp", str(echo_port), "-aa", "-trace_msg"])
    calls = 3
    uac, stat = sipp.uac(f"127.0.0.1:{gateway.sip_port}", calls=calls, rate=1,
                         service="5000", scenario=scenario,
                         extra=["-mi", "127.0.0.1", "-mp", str(uac_media), "-l", "3"],
                         timeout=90)
    rc, stats = sipp.finish(uac, stat, timeout=120)
    time.sleep(1)
    cap.stop()
    assert stats.successful == calls and stats.failed == 0 and rc == 0, (
        f"{stats.successful}/{calls} pcap calls ok, failures {stats.failures()}, exit {rc}\n"
        f"{sipp.explain(uac)}")

    to_echo = count(pcap, f"udp.dstport == {echo_port}")
    back = count(pcap, f"udp.dstport >= {uac_media} and udp.dstport <= {uac_media + 11}")
    assert to_echo >= calls * 200, f"only {to_echo} RTP packets reached the echoing SIPp"
    assert back >= calls * 200, f"only {back} echoed RTP packets came back to the calling SIPp"

    m = gateway.metrics()
    packets = m.get("gateway_rtp_packets_relayed_total")
    bytes_ = m.get("gateway_rtp_bytes_relayed_total")
    # g711a.pcap is ~246 RTP packets per call, echoed back: both directions
    # through the relay make ~490 per call. Demand more than one direction's
    # worth so a one-way relay fails.
    assert packets >= calls * 400, (
        f"gateway relayed {packets} RTP packets for {calls} calls of ~5 s audio "
        f"echoed back (expected ≥{calls * 400}: both directions)")
    assert bytes_ >= packets * 150, f"{bytes_} bytes for {packets} packets: too few for G.711 20 ms"
    # Direction-labelled counters, if the gateway exports them, must both move.
    dirs = {ls.get("direction") for n, ls, v in m.samples
            if n == "gateway_rtp_packets_relayed_total" and v > 0 and "direction" in ls}
    if dirs:
        assert len(dirs) >= 2, f"RTP relayed in one direction only: {dirs}"


    received = "\n".join(p.read_text(errors="replace")
                          for p in sipp.workdir.glob("uas_*_messages.log"))
    infos = received.count("INFO sip:")
    assert infos >= calls, (
        f"{infos} INFO for {calls} calls each playing an RFC 2833 digit:\n{received[-3000:]}")
    assert received.count("application/dtmf-relay") >= calls, received[-3000:]
    assert received.count("Signal=1") >= calls, received[-3000:]
    assert "audio transcoded" in gateway.log(), "PCMA↔PCMU was not transcoded"
