#!/usr/bin/env python3
"""Build the backup bench's source: a 4 GiB NTFS volume filled like a used Windows C:, once.

    scripts/bench/build-volume.py        print the path of the volume, building it if needed

The volume is cached as .cache/bench/ntfs-4g-<key>.img, the key being a hash of this script and
of scripts/fixtures/tools.py (the mount helper), so editing either rebuilds it; older versions are
removed. Made by independent tools only: mkntfs -Q on a sparse file, filled through an ntfs-3g
FUSE mount. Content, deterministic (seeded), about 55% of the volume:

    pagefile.sys 384 MiB, hiberfil.sys 256 MiB, swapfile.sys 16 MiB  (page-like / random)
    System Volume Information: two VSS store files (160 MiB) and the catalog  (the diff area)
    text and logs ~450 MiB        log-like lines, zstd -3 compresses them about 3-4x
    random ~450 MiB               photos, videos, archives: incompressible
    program files ~500 MiB        executables-like: random, text and zero runs mixed, ~1.6x
    20 000 small files ~75 MiB    0.2-12 KiB, text or random, some resident in the MFT
    stale data ~700 MiB           written between the rest, deleted in a second mount: it stays
                                  in free space, where an allocation-aware backup must not read it

Progress goes to stderr; the only line on stdout is the volume's path.
"""
import glob
import hashlib
import os
import random
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))

from tools import ntfs_mounted, run  # noqa: E402

KIB = 1 << 10
MIB = 1 << 20
VOLUME_SIZE = 4096 * MIB
# The volume sits at LBA 2048 of the disk the bench presents to Lifeboat (scripts/bench/volume-disk.ts).
START_SECTOR = 2048
CACHE = os.path.join(ROOT, ".cache", "bench")
VSS = "{3808876b-c176-4e48-b7ae-04046e6cc752}"


def key():
    h = hashlib.sha256()
    for path in (os.path.abspath(__file__), os.path.join(ROOT, "scripts", "fixtures", "tools.py")):
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def log(message):
    print(f"build-volume: {message}", file=sys.stderr, flush=True)


WORDS = ("service started stopped status OK failed retry connection session user policy update install package "
         "component manifest registry key value driver device storage volume network adapter address request "
         "response timeout scheduled task event error warning information verbose trace module loaded unloaded "
         "handle memory cache thread process security audit success logon logoff token privilege certificate "
         "download upload transfer file directory path backup restore snapshot shadow copy index search").split()
LEVELS = ("Info", "Info", "Info", "Warning", "Error", "Verbose")
COMPONENTS = ("CBS", "CSI", "DISM", "WindowsUpdate", "Kernel-PnP", "Schannel", "DNS Client", "Winlogon",
              "TaskScheduler", "Defender", "BITS", "VSS", "Ntfs", "Tcpip", "AppModel-Runtime")


def text_corpus(size):
    """Log-like lines (timestamps, ids, counters, sentences from a small vocabulary)."""
    rng = random.Random("corpus")
    lines, total, t = [], 0, 1_700_000_000.0
    while total < size:
        t += rng.expovariate(20)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        line = (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t))}.{int(t * 1000) % 1000:03d}, "
                f"{rng.choice(LEVELS):8} {rng.choice(COMPONENTS):17} pid={rng.randint(4, 9999):5} "
                f"tid={rng.randint(4, 99999):5} {words} (0x{rng.getrandbits(32):08x}) "
                f"[{rng.randint(0, 10**6)}]\r\n")
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


class Content:
    """Deterministic file contents by kind."""

    def __init__(self):
        self.corpus = text_corpus(24 * MIB)

    def text(self, rng, size):
        out, n = [], 0
        while n < size:
            length = min(rng.randint(16 * KIB, 256 * KIB), size - n)
            at = rng.randrange(0, len(self.corpus) - length)
            out.append(self.corpus[at:at + length])
            n += length
        return b"".join(out)

    @staticmethod
    def random(rng, size):
        return b"".join(rng.randbytes(min(8 * MIB, size - i)) for i in range(0, size, 8 * MIB))

    def program(self, rng, size):
        """Executable-like: code (random), strings (text), tables and padding (zeros, small values)."""
        out, n = [], 0
        while n < size:
            length = min(rng.randint(512, 16 * KIB), size - n)
            kind = rng.random()
            if kind < 0.45:
                out.append(rng.randbytes(length))
            elif kind < 0.7:
                at = rng.randrange(0, len(self.corpus) - length)
                out.append(self.corpus[at:at + length])
            elif kind < 0.85:
                out.append(bytes(length))
            else:
                out.append(bytes(rng.randrange(16) for _ in range(64)) * (length // 64) + bytes(length % 64))
            n += length
        return b"".join(out)

    def pages(self, rng, size):
        """Memory pages as a page file holds them: a third zero, the rest code, data and text."""
        out = []
        for _ in range(0, size, 64 * KIB):
            kind = rng.random()
            if kind < 0.33:
                out.append(bytes(64 * KIB))
            elif kind < 0.75:
                out.append(rng.randbytes(64 * KIB))
            else:
                out.append(self.program(rng, 64 * KIB))
        return b"".join(out)[:size]


def put(mnt, rel, data):
    path = os.path.join(mnt, *rel.split("\\"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def sizes(rng, total, low, high):
    """File sizes between low and high (log-uniform) adding up to about `total`."""
    out, n = [], 0
    while n < total:
        s = min(int(low * (high / low) ** rng.random()), total - n)
        out.append(s)
        n += s
    return out


def fill(mnt, content):
    rng = random.Random("layout")
    stale = []
    written = {"stale": 0}

    def add(kind, rel, data):
        written[kind] = written.get(kind, 0) + put(mnt, rel, data)

    def stale_batch(tag, total):
        # Deleted later: text and random mixed, as a user's deleted downloads and temp files are.
        for i, s in enumerate(sizes(rng, total, 256 * KIB, 16 * MIB)):
            rel = f"Users\\Technician\\AppData\\Local\\Temp\\{tag}-{i:04d}.tmp"
            data = content.text(rng, s) if i % 2 else content.random(rng, s)
            written["stale"] += put(mnt, rel, data)
            stale.append(rel)

    add("special", "pagefile.sys", content.pages(random.Random("pagefile"), 384 * MIB))
    stale_batch("a", 140 * MIB)
    add("special", "swapfile.sys", content.pages(random.Random("swapfile"), 16 * MIB))
    svi = "System Volume Information\\"
    add("diff area", svi + "{5c0e9f12-7a3b-4d21-9e8f-0b1c2d3e4f50}" + VSS, content.program(random.Random("vss1"), 96 * MIB))
    add("diff area", svi + "{a81d4c6e-2f90-4b7a-8c3d-5e6f7a8b9c0d}" + VSS, content.pages(random.Random("vss2"), 64 * MIB))
    add("diff area", svi + VSS, content.random(random.Random("vss-catalog"), 16 * KIB))
    add("small", svi + "tracking.log", content.text(random.Random("tracking"), 20 * KIB))

    log("program files")
    for i, s in enumerate(sizes(rng, 250 * MIB, 16 * KIB, 24 * MIB)):
        add("program", f"Windows\\System32\\lib{i:04d}.dll", content.program(rng, s))
    stale_batch("b", 140 * MIB)
    for i, s in enumerate(sizes(rng, 250 * MIB, 16 * KIB, 24 * MIB)):
        add("program", f"Program Files\\Vendor App {i % 7}\\bin\\module{i:04d}.dll", content.program(rng, s))

    log("text and logs")
    for i, s in enumerate(sizes(rng, 250 * MIB, 8 * KIB, 32 * MIB)):
        add("text", f"Windows\\Logs\\CBS\\CBS{i:04d}.log", content.text(rng, s))
    stale_batch("c", 140 * MIB)
    for i, s in enumerate(sizes(rng, 200 * MIB, 4 * KIB, 8 * MIB)):
        ext = ("txt", "csv", "xml", "log")[i % 4]
        add("text", f"Users\\Technician\\Documents\\Project {i % 13}\\notes-{i:04d}.{ext}", content.text(rng, s))

    log("random")
    add("special", "hiberfil.sys", content.random(random.Random("hiberfil"), 256 * MIB))
    for i, s in enumerate(sizes(rng, 150 * MIB, 512 * KIB, 8 * MIB)):
        add("random", f"Users\\Technician\\Pictures\\2024\\IMG_{i:05d}.JPG", b"\xff\xd8\xff\xe1" + content.random(rng, s - 4))
    stale_batch("d", 140 * MIB)
    for i, s in enumerate(sizes(rng, 200 * MIB, 32 * MIB, 96 * MIB)):
        add("random", f"Users\\Technician\\Videos\\clip-{i:03d}.mp4", content.random(rng, s))
    for i, s in enumerate(sizes(rng, 100 * MIB, 1 * MIB, 16 * MIB)):
        add("random", f"Users\\Technician\\Downloads\\archive-{i:03d}.zip", b"PK\3\4" + content.random(rng, s - 4))

    log("small files")
    for i in range(20000):
        s = int(200 * (12 * KIB / 200) ** rng.random())
        rel = f"Users\\Technician\\AppData\\Roaming\\Cache\\{i % 250:03d}\\entry-{i:05d}.dat"
        add("small", rel, content.text(rng, s) if i % 3 else rng.randbytes(s))
    stale_batch("e", 140 * MIB)
    return written, stale


def build(path):
    with open(path, "wb") as f:
        f.truncate(VOLUME_SIZE)
    run("mkntfs", "-q", "-F", "-Q", "-s", 512, "-c", 4096, "-p", START_SECTOR, "-H", 255, "-S", 63, "-L", "Windows", path)
    content = Content()
    with ntfs_mounted(path) as mnt:
        written, stale = fill(mnt, content)
    with ntfs_mounted(path) as mnt:
        for rel in stale:
            os.remove(os.path.join(mnt, *rel.split("\\")))
        st = os.statvfs(mnt)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
    log(", ".join(f"{k} {v / MIB:.0f} MiB" for k, v in written.items()) +
        f"; in use after deleting the stale files: {used / MIB:.0f} MiB of {VOLUME_SIZE / MIB:.0f} MiB ({100 * used / VOLUME_SIZE:.0f}%)")


def main():
    k = key()
    final = os.path.join(CACHE, f"ntfs-4g-{k}.img")
    if not os.path.exists(final):
        os.makedirs(CACHE, exist_ok=True)
        for old in glob.glob(os.path.join(CACHE, "ntfs-4g-*")):
            if os.path.isdir(old):
                shutil.rmtree(old)
            else:
                os.remove(old)
        tmp = os.path.join(CACHE, f"ntfs-4g-{k}.building")
        started = time.time()
        log(f"building {os.path.relpath(final, ROOT)} (once per version of this script) ...")
        build(tmp)
        os.rename(tmp, final)
        log(f"built in {time.time() - started:.0f} s")
    print(final)


if __name__ == "__main__":
    main()
