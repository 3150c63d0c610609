# Reference run lengths of the one-sided CUSUM S' = max(0, S + X - k), signal S > h, X ~ N(mu, 1), by R
# package spc (Debian r-cran-spc).  Regenerate: Rscript tests/analysis/reference/cusum_reference.R
# Output: cusum_reference.csv, compared by tests/analysis/test_control.py (the discrete chain of
# analysis.control.cusum_arl_discrete on a fine normal grid).
library(spc)
out <- data.frame()
for (k in c(0.25, 0.5)) {
  h <- xcusum.crit(k, 250, sided = "one")
  for (mu in c(0, 0.5, 0.8856149, 1.252449)) {
    out <- rbind(out, data.frame(k = k, h = h, mu = mu, arl = xcusum.arl(k, h, mu, sided = "one"),
                                 q90 = xcusum.q(k, h, mu, 0.9, sided = "one")))
  }
}
out$spc_version <- as.character(packageVersion("spc"))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(sub("^--file=", "", args[grep("^--file=", args)]))
write.csv(out, file.path(here, "cusum_reference.csv"), row.names = FALSE)
