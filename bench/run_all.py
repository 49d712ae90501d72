"""Runs every benchmark in bench/ and prints its figures (`make bench`)."""

from bench import startup

if __name__ == "__main__":
    print("== startup ==")
    startup.main()
