"""The policy benchmark: the same synthetic workload under the same link trace, one policy after another.

``dayuctl bench-policies`` (and ``make bench-policies``) run it; see docs/policies.md.
"""
