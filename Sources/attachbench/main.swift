// attachbench: measures the release attachd. See bench/README.md.
AttachBench.main()
