-- wrk script: top-10 for a random one of the 10,000 seeded users (user0..user9999).
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/users/user" .. math.random(0, 9999) .. "/recommendations?k=10")
end
