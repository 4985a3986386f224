"""The volume scheduler: capacity, availability zone and type filters, capacity weigher."""
