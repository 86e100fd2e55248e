"""The building and standard-address register and offline address matching (地址匹配).

- :mod:`.normalize`: address text in one canonical form; our own prefixes; other counties;
- :mod:`.match`: the in-memory index of a region's register and :func:`match_address`;
"""
