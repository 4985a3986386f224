"""ML2-style plug-in layer: type drivers own segments, mechanism drivers bind ports."""
