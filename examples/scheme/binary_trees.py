"""binary-trees in CPython, the same program as binary_trees.scm (for BENCHMARKS.md).

usage: python3 binary_trees.py [max-depth]   (default 10)
"""
import sys


def make_tree(depth):
    if depth == 0:
        return (None, None)
    return (make_tree(depth - 1), make_tree(depth - 1))


def check(tree):
    left, right = tree
    if left is None:
        return 1
    return 1 + check(left) + check(right)


def report(label, depth, value):
    print(f"{label}{depth}\t check: {value}")


def main():
    min_depth = 4
    max_depth = max(min_depth + 2, int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    stretch = max_depth + 1
    report("stretch tree of depth ", stretch, check(make_tree(stretch)))
    long_lived = make_tree(max_depth)
    for depth in range(min_depth, max_depth + 1, 2):
        iterations = 2 ** (max_depth - depth + min_depth)
        total = 0
        for _ in range(iterations):
            total += check(make_tree(depth))
        print(iterations, end="")
        report("\t trees of depth ", depth, total)
    report("long lived tree of depth ", max_depth, check(long_lived))


main()
