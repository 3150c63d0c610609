# Reference values for analysis/multiple.py and analysis/weights.py (tests/analysis/test_multiple.py,
# test_weights.py). Regenerate with:  Rscript tests/analysis/reference/extras_reference.R
# (from the repository root; needs r-cran-survey and r-cran-jsonlite). Output: extras_reference.json
suppressMessages({library(survey); library(jsonlite)})
out <- list()

p <- c(0.0004, 0.012, 0.03, NA, 0.041, 0.0021, 0.2, 0.7, 0.012, 0.049, 0.9)
out$padjust <- list(p = p, holm = p.adjust(p, "holm"), BH = p.adjust(p, "BH"))

# Raking: 12 respondents, two margins (sex, district), unequal starting weights.
d <- data.frame(sex = c("f","m","f","m","f","m","f","f","m","m","f","m"),
                district = c("A","A","B","B","C","C","A","B","C","A","C","B"),
                w0 = c(1, 2, 1.5, 1, 1, 3, 2, 1, 1, 2, 1.5, 1))
des <- svydesign(ids = ~1, weights = ~w0, data = d)
pop_sex <- data.frame(sex = c("f", "m"), Freq = c(520, 480))
pop_district <- data.frame(district = c("A", "B", "C"), Freq = c(300, 450, 250))
r <- rake(des, list(~sex, ~district), list(pop_sex, pop_district),
          control = list(maxit = 100, epsilon = 1e-12, verbose = FALSE))
out$rake <- list(data = d, sex = setNames(as.list(pop_sex$Freq), pop_sex$sex),
                 district = setNames(as.list(pop_district$Freq), pop_district$district),
                 weights = unname(weights(r)))

# Post-stratification to cell volume with unit starting weights: survey's postStratify.
ps <- data.frame(service_point = c("SP1","SP1","SP1","SP2","SP2","SP3","SP3","SP3","SP3"),
                 month = c("2024-01","2024-01","2024-02","2024-01","2024-01","2024-02","2024-02","2024-02","2024-01"))
ps$cell <- paste(ps$service_point, ps$month)
vol <- data.frame(cell = c("SP1 2024-01","SP1 2024-02","SP2 2024-01","SP3 2024-02","SP3 2024-01"),
                  Freq = c(120, 35, 80, 410, 7))
pd <- postStratify(svydesign(ids = ~1, weights = ~rep(1, nrow(ps)), data = ps), ~cell, vol)
out$poststratify <- list(data = ps[, c("service_point", "month")],
                         volume = data.frame(service_point = sub(" .*", "", vol$cell),
                                             month = sub(".* ", "", vol$cell), dossiers = vol$Freq),
                         weights = unname(weights(pd)))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE),
           "tests/analysis/reference/extras_reference.json")
