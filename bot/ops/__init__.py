"""Operations: several workers on one port, metrics, rate limits and load shedding,
personal-data retention. Wired by :mod:`bot.ops.feature`."""
