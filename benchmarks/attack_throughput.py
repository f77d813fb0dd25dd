"""Attack throughput against the floor and AutoAttack's APGD; the same as `bench perf`.

    python benchmarks/attack_throughput.py --model clip-convnext --random-weights --batch-size 2 --n-iter 20
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.cli.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["perf", *sys.argv[1:]]))
