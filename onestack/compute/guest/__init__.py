"""Guest images built on this machine from Debian packages (``onestack image build tiny``)."""
