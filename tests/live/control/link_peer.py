"""A Link peer for the tests (run inside a private network namespace): joins the session at BPM,
sets TEMPO_LATER after SWITCH_S seconds, stays for STAY_S seconds in all.

    python link_peer.py BPM TEMPO_LATER SWITCH_S STAY_S
"""

import asyncio
import sys
import time

from aalink import Link


async def main(bpm: float, later: float, switch_s: float, stay_s: float) -> None:
    link = Link(bpm)
    link.enabled = True
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < stay_s:
        if elapsed >= switch_s and link.tempo != later:
            link.tempo = later
            print(f"peer: tempo {later} at {elapsed:.1f} s, {link.num_peers} peer(s)", flush=True)
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(*map(float, sys.argv[1:5])))
