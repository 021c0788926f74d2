"""What machine the figures were measured on."""

import os
import platform


def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_kb = 0
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_kb = int(line.split()[1])
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_mib": memory_kb // 1024,
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
