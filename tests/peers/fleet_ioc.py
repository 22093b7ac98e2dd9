"""Serves an instrument fleet over Channel Access from a real peer, for the integration tests.

usage: fleet_ioc.py softioc|caproto INSTRUMENTS [--garbled] [--all-answer] [--log-commands]

The port comes from EPICS_CA_SERVER_PORT. Serves CS:INSTLIST (hex of zlib of JSON, as IBEX
does), <prefix>CS:VERSION:SVN:REV for each instrument but the last (listed, never answers; with --all-answer, every one),
TEST:BIG (a 100,000-character char waveform, which needs the extended header) and, with
--garbled, an instrument GARBLED whose version PV holds no version. Prints READY when serving.
With --log-commands (caproto only), logs every command the server receives on stdout.
"""
import json
import sys
import zlib


def fleet(count, garbled, all_answer):
    instruments, versions = [], {}
    for i in range(1, count + 1):
        name = "LARMOR" if i == 1 else f"INST{i:03d}"
        prefix = f"IN:{name}:"
        instruments.append({"name": name, "hostName": f"NDX{name}", "pvPrefix": prefix,
                            "isScheduled": True, "groups": ["SANS"], "seci": False,
                            "targetStation": "TS2"})
        if i < count or all_answer:
            versions[prefix + "CS:VERSION:SVN:REV"] = f"26.2.{i % 3}.{1000 + i}"
    if garbled:
        instruments.append({"name": "GARBLED", "hostName": "NDXGARBLED", "pvPrefix": "IN:GARBLED:",
                            "isScheduled": True, "groups": [], "seci": False, "targetStation": "TS1"})
        versions["IN:GARBLED:CS:VERSION:SVN:REV"] = "not a version"
    instlist = zlib.compress(json.dumps(instruments).encode()).hex()
    return instlist, versions


def serve_softioc(instlist, versions, big):
    from softioc import asyncio_dispatcher, builder, softioc
    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    def record(name):
        device, _, leaf = name.rpartition(":")
        builder.SetDeviceName(device)
        return leaf
    builder.longStringIn(record("CS:INSTLIST"), initial_value=instlist, length=len(instlist) + 1)
    for pv, version in versions.items():
        builder.stringIn(record(pv), initial_value=version)
    builder.longStringIn(record("TEST:BIG"), initial_value=big, length=len(big) + 1)
    builder.LoadDatabase()
    softioc.iocInit(dispatcher)
    print("READY", flush=True)
    import time
    while True:
        time.sleep(3600)


def serve_caproto(instlist, versions, big):
    import asyncio
    from caproto import ChannelChar, ChannelString
    from caproto.asyncio.server import run
    if "--log-commands" in sys.argv:
        import caproto
        caproto.set_handler(file=sys.stdout, level="DEBUG", color=False)
    pvdb = {"CS:INSTLIST": ChannelChar(value=instlist.encode(), max_length=len(instlist) + 1),
            "TEST:BIG": ChannelChar(value=big.encode(), max_length=len(big) + 1)}
    for pv, version in versions.items():
        pvdb[pv] = ChannelString(value=version)
    print("READY", flush=True)
    asyncio.run(run(pvdb, interfaces=["127.0.0.1"]))


def main():
    peer, count = sys.argv[1], int(sys.argv[2])
    instlist, versions = fleet(count, "--garbled" in sys.argv, "--all-answer" in sys.argv)
    big = "".join(chr(ord("a") + i % 26) for i in range(100_000))
    {"softioc": serve_softioc, "caproto": serve_caproto}[peer](instlist, versions, big)


if __name__ == "__main__":
    main()
