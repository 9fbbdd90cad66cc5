"""Times commands in alternation, one run of each in turn, and prints the
median wall time of each in milliseconds, space-separated.

usage: interleave.py RUNS CMD... [-- CMD...]...   (a leading VAR=VALUE sets
       an environment variable for that command only)

Alternating keeps slow drifts of a shared machine (another build, the page
cache, CPU frequency) out of the comparison, which back-to-back batches
(hyperfine's) let in: one batch can run on a quieter machine than the
next. Each command runs 5 times first, unmeasured; a failing run aborts.
"""
import os
import statistics
import sys
import time


def main():
    runs = int(sys.argv[1])
    cmds, cur = [], []
    for arg in sys.argv[2:]:
        if arg == "--":
            cmds.append(cur)
            cur = []
        else:
            cur.append(arg)
    cmds.append(cur)
    devnull = os.open(os.devnull, os.O_WRONLY)

    def run(cmd):
        env = dict(os.environ)
        while "=" in cmd[0] and not cmd[0].startswith("/"):
            key, value = cmd[0].split("=", 1)
            env[key] = value
            cmd = cmd[1:]
        start = time.perf_counter()
        pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
        if status != 0:
            sys.exit("interleave.py: failed (%d): %s" % (status, " ".join(cmd)))
        return elapsed

    for cmd in cmds:
        for _ in range(5):
            run(cmd)
    times = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            times[i].append(run(cmd))
    print(" ".join("%.2f" % (statistics.median(t) * 1000) for t in times))


main()
